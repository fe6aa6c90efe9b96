//! Which provider a delivery came from: the providers this build serves, by id and name. What a provider is
//! (its [`crate::providers::ProviderSpec`], through `ProviderId::spec`) is the `providers` module's, so the
//! model stays below everything that reads it.

/// Declares the enum of provider ids, its names and `ALL`, from one line each.
macro_rules! provider_ids {
    ($($variant:ident = $name:literal,)+) => {
        /// A provider this build serves: one variant per module in `providers/`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum ProviderId {
            $(#[serde(rename = $name)] $variant,)+
        }

        impl ProviderId {
            /// Every provider, in the order of the list.
            pub const ALL: &'static [ProviderId] = &[$(Self::$variant),+];

            /// As in URLs, binaries, environment variables and stored records: `esimgo`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)+
                }
            }
        }
    };
}

// The list of providers: one line each, `Variant = "name"`. Each has its module in `providers/` and its arm in
// `ProviderId::spec` (`providers/mod.rs`), which the compiler asks for.
provider_ids! {
    EsimGo = "esimgo",
    EsimAccess = "esimaccess",
    Roamify = "roamify",
    Airalo = "airalo",
    Gigastore = "gigastore",
    OneGlobal = "oneglobal",
}

impl ProviderId {
    /// Of its environment variables: `ESIMGO` (`ESIMGO_SECRETS`, `ESIMGO_SECRETS_PARAM`).
    pub fn env_prefix(self) -> String {
        self.as_str().to_ascii_uppercase()
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.as_str() == name)
    }

    /// The provider names, for messages: `esimgo, esimaccess, roamify or airalo`.
    pub fn names() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|p| p.as_str()).collect();
        match names.split_last() {
            Some((last, [])) => last.to_string(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

impl std::fmt::Display for ProviderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
