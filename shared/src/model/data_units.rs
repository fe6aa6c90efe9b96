//! Data amounts as the provider sells them. eSIM Go counts a gigabyte as 1,000,000,000 bytes; eSIM Access and
//! Roamify as 1,073,741,824 (1024 MB): shown in the wrong convention, a full 1 GB plan reads 0.93 GB or
//! 1.07 GB. Each provider's convention is declared with its provider (`providers/`, in the
//! `*_api.rs` module where its usage API shares it).

use super::ProviderId;

/// How many bytes a provider's megabyte has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataUnits {
    /// 1 MB = 1,000,000 bytes, 1 GB = 1000 MB.
    Decimal,
    /// 1 MB = 1,048,576 bytes, 1 GB = 1024 MB.
    Binary,
}

impl DataUnits {
    pub fn of(provider: ProviderId) -> Self {
        provider.spec().data_units
    }

    fn step(self) -> f64 {
        match self {
            Self::Decimal => 1000.0,
            Self::Binary => 1024.0,
        }
    }

    /// Bytes in one of the provider's megabytes.
    pub fn megabyte(self) -> f64 {
        self.step() * self.step()
    }

    /// `2.5 GB`, `1 GB`, `300 MB`: GB with at most one decimal (dropped when whole) from one gigabyte up, else
    /// whole MB; `decimal` is the locale's decimal separator.
    pub fn label(self, bytes: u64, decimal: char) -> String {
        let mb = bytes as f64 / self.megabyte();
        if mb >= self.step() - 0.5 {
            let gb = (mb / self.step() * 10.0).round() / 10.0;
            let text = if gb.fract() == 0.0 {
                format!("{gb:.0}")
            } else {
                format!("{gb:.1}")
            };
            format!("{} GB", text.replace('.', &decimal.to_string()))
        } else {
            format!("{:.0} MB", mb.floor())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_plan_reads_as_sold() {
        assert_eq!(DataUnits::Binary.label(1_073_741_824, '.'), "1 GB");
        assert_eq!(DataUnits::Decimal.label(1_000_000_000, '.'), "1 GB");
        assert_eq!(DataUnits::Decimal.label(2_500_000_000, ','), "2,5 GB");
        assert_eq!(DataUnits::Binary.label(268_435_456, '.'), "256 MB");
        assert_eq!(DataUnits::Decimal.label(200_000_000, '.'), "200 MB");
        assert_eq!(DataUnits::Decimal.label(999_999, '.'), "0 MB");
        assert_eq!(DataUnits::Binary.label(5_351_505_742, '.'), "5 GB");
    }
}
