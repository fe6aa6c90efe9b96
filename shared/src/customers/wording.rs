//! The words of customer messages: English, Spanish, French and German built in, each overridable, and more
//! languages added, by the operator's own file (`ESIMHOOKS_MESSAGES_FILE`, or deployed as the SSM parameter
//! `ESIMHOOKS_MESSAGES_PARAM`): JSON, `{"<language>": {"<field>": "<text>", ...}, ...}` with the field names
//! of [`Wording`]. A field not given keeps the built-in text of that language, or English for a new one. The
//! key `"plans"` holds the reseller's plan names instead (see `plans.rs`).

use super::plans::{PlanCatalog, PlanError};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

type Text = Cow<'static, str>;

const fn t(text: &'static str) -> Text {
    Cow::Borrowed(text)
}

/// The wording of one language. `{brand}`, `{greeting}`, `{name}`, `{plan}`, `{percent}`, `{data_left}`,
/// `{ends_at}`, `{hours}` and `{topup_url}` are filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Wording {
    pub locale: Text,
    pub decimal: char,
    pub months: [Text; 12],
    pub greeting: Text,
    pub greeting_named: Text,
    pub your_plan: Text,
    pub low_data: Text,
    pub low_data_amount: Text,
    /// Data left known only as an amount (the provider states no total).
    pub low_data_left: Text,
    pub expiry_soon: Text,
    pub expiry_ended: Text,
    pub expiry_within: Text,
    pub topup: Text,
    pub topup_link: Text,
    pub subject_low_data: Text,
    pub subject_low_data_left: Text,
    pub subject_expiry_soon: Text,
    pub subject_expiry_ended: Text,
    pub subject_expiry_within: Text,
}

const ENGLISH: Wording = Wording {
    locale: t("en"),
    decimal: '.',
    months: [
        t("Jan"),
        t("Feb"),
        t("Mar"),
        t("Apr"),
        t("May"),
        t("Jun"),
        t("Jul"),
        t("Aug"),
        t("Sep"),
        t("Oct"),
        t("Nov"),
        t("Dec"),
    ],
    greeting: t("Hi,"),
    greeting_named: t("Hi {name},"),
    your_plan: t("your eSIM plan"),
    low_data: t("{greeting} {plan} has {percent} of its data left."),
    low_data_amount: t("{greeting} {plan} has {data_left} of data left ({percent})."),
    low_data_left: t("{greeting} {plan} has {data_left} of data left."),
    expiry_soon: t("{greeting} {plan} ends on {ends_at}."),
    expiry_ended: t("{greeting} {plan} has ended."),
    expiry_within: t("{greeting} {plan} ends within {hours} hours."),
    topup: t("Top up: {topup_url}"),
    topup_link: t("Top up"),
    subject_low_data: t("{brand}: {percent} of your data left"),
    subject_low_data_left: t("{brand}: {data_left} of data left"),
    subject_expiry_soon: t("{brand}: your plan ends on {ends_at}"),
    subject_expiry_ended: t("{brand}: your plan has ended"),
    subject_expiry_within: t("{brand}: your plan ends within {hours} hours"),
};

const SPANISH: Wording = Wording {
    locale: t("es"),
    decimal: ',',
    months: [
        t("ene"),
        t("feb"),
        t("mar"),
        t("abr"),
        t("may"),
        t("jun"),
        t("jul"),
        t("ago"),
        t("sep"),
        t("oct"),
        t("nov"),
        t("dic"),
    ],
    greeting: t("Hola:"),
    greeting_named: t("Hola {name}:"),
    your_plan: t("tu plan eSIM"),
    low_data: t("{greeting} a {plan} le queda el {percent} de los datos."),
    low_data_amount: t("{greeting} a {plan} le quedan {data_left} de datos ({percent})."),
    low_data_left: t("{greeting} a {plan} le quedan {data_left} de datos."),
    expiry_soon: t("{greeting} {plan} termina el {ends_at}."),
    expiry_ended: t("{greeting} {plan} ha terminado."),
    expiry_within: t("{greeting} {plan} termina en menos de {hours} horas."),
    topup: t("Recarga: {topup_url}"),
    topup_link: t("Recargar"),
    subject_low_data: t("{brand}: te queda el {percent} de los datos"),
    subject_low_data_left: t("{brand}: te quedan {data_left} de datos"),
    subject_expiry_soon: t("{brand}: tu plan termina el {ends_at}"),
    subject_expiry_ended: t("{brand}: tu plan ha terminado"),
    subject_expiry_within: t("{brand}: tu plan termina en menos de {hours} horas"),
};

const FRENCH: Wording = Wording {
    locale: t("fr"),
    decimal: ',',
    months: [
        t("janv."),
        t("févr."),
        t("mars"),
        t("avr."),
        t("mai"),
        t("juin"),
        t("juil."),
        t("août"),
        t("sept."),
        t("oct."),
        t("nov."),
        t("déc."),
    ],
    greeting: t("Bonjour,"),
    greeting_named: t("Bonjour {name},"),
    your_plan: t("votre forfait eSIM"),
    low_data: t("{greeting} il reste {percent} des données de {plan}."),
    low_data_amount: t("{greeting} il reste {data_left} de données sur {plan} ({percent})."),
    low_data_left: t("{greeting} il reste {data_left} de données sur {plan}."),
    expiry_soon: t("{greeting} {plan} se termine le {ends_at}."),
    expiry_ended: t("{greeting} {plan} est terminé."),
    expiry_within: t("{greeting} {plan} se termine dans moins de {hours} heures."),
    topup: t("Recharger : {topup_url}"),
    topup_link: t("Recharger"),
    subject_low_data: t("{brand} : il vous reste {percent} de vos données"),
    subject_low_data_left: t("{brand} : il vous reste {data_left} de données"),
    subject_expiry_soon: t("{brand} : votre forfait se termine le {ends_at}"),
    subject_expiry_ended: t("{brand} : votre forfait est terminé"),
    subject_expiry_within: t("{brand} : votre forfait se termine dans moins de {hours} heures"),
};

const GERMAN: Wording = Wording {
    locale: t("de"),
    decimal: ',',
    months: [
        t("Jan."),
        t("Feb."),
        t("März"),
        t("Apr."),
        t("Mai"),
        t("Juni"),
        t("Juli"),
        t("Aug."),
        t("Sept."),
        t("Okt."),
        t("Nov."),
        t("Dez."),
    ],
    greeting: t("Hallo,"),
    greeting_named: t("Hallo {name},"),
    your_plan: t("Ihr eSIM-Tarif"),
    low_data: t("{greeting} {plan} hat noch {percent} des Datenvolumens."),
    low_data_amount: t("{greeting} {plan} hat noch {data_left} Datenvolumen ({percent})."),
    low_data_left: t("{greeting} {plan} hat noch {data_left} Datenvolumen."),
    expiry_soon: t("{greeting} {plan} endet am {ends_at}."),
    expiry_ended: t("{greeting} {plan} ist abgelaufen."),
    expiry_within: t("{greeting} {plan} endet in weniger als {hours} Stunden."),
    topup: t("Aufladen: {topup_url}"),
    topup_link: t("Aufladen"),
    subject_low_data: t("{brand}: noch {percent} Ihres Datenvolumens"),
    subject_low_data_left: t("{brand}: noch {data_left} Datenvolumen"),
    subject_expiry_soon: t("{brand}: Ihr Tarif endet am {ends_at}"),
    subject_expiry_ended: t("{brand}: Ihr Tarif ist abgelaufen"),
    subject_expiry_within: t("{brand}: Ihr Tarif endet in weniger als {hours} Stunden"),
};

/// The wordings customer messages use: the built-in ones with the operator's overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct Templates {
    wordings: Vec<Wording>,
    /// The reseller's plan names: the only way a plan is named to a customer.
    pub plans: PlanCatalog,
}

impl Default for Templates {
    fn default() -> Self {
        Self {
            wordings: vec![ENGLISH, SPANISH, FRENCH, GERMAN],
            plans: PlanCatalog::default(),
        }
    }
}

/// The messages file's key for the plan catalog (not a language code: those have two or three letters).
const PLANS_KEY: &str = "plans";

/// One language's overrides as the operator writes them; an unknown field is refused (a typo would otherwise
/// leave the built-in text in place unnoticed).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Overrides {
    decimal: Option<char>,
    months: Option<[String; 12]>,
    greeting: Option<String>,
    greeting_named: Option<String>,
    your_plan: Option<String>,
    low_data: Option<String>,
    low_data_amount: Option<String>,
    low_data_left: Option<String>,
    expiry_soon: Option<String>,
    expiry_ended: Option<String>,
    expiry_within: Option<String>,
    topup: Option<String>,
    topup_link: Option<String>,
    subject_low_data: Option<String>,
    subject_low_data_left: Option<String>,
    subject_expiry_soon: Option<String>,
    subject_expiry_ended: Option<String>,
    subject_expiry_within: Option<String>,
}

/// Why the operator's message templates are refused.
#[derive(Debug, thiserror::Error)]
pub enum TemplatesError {
    #[error("customer message templates: {0}")]
    Json(#[from] serde_json::Error),
    #[error("customer message templates: {0}")]
    Plans(#[from] PlanError),
    #[error("customer message templates: {locale}: {source}")]
    Overrides { locale: String, source: serde_json::Error },
    #[error("customer message templates: {0:?} is not a language code")]
    NotALanguage(String),
}

impl Templates {
    /// The built-in wordings with `json`'s overrides (see the module's documentation).
    pub fn with_overrides(json: &str) -> Result<Self, TemplatesError> {
        let mut given: BTreeMap<String, serde_json::Value> = serde_json::from_str(json)?;
        let mut templates = Self::default();
        if let Some(plans) = given.remove(PLANS_KEY) {
            templates.plans = PlanCatalog::from_json(plans)?;
        }
        for (locale, over) in given {
            let over: Overrides = match serde_json::from_value(over) {
                Ok(over) => over,
                Err(source) => return Err(TemplatesError::Overrides { locale, source }),
            };
            let language = locale.split('-').next().unwrap_or("").to_ascii_lowercase();
            if language.len() < 2 || !language.chars().all(|c| c.is_ascii_lowercase()) {
                return Err(TemplatesError::NotALanguage(locale));
            }
            let index = match templates.wordings.iter().position(|w| w.locale == language) {
                Some(index) => index,
                None => {
                    templates.wordings.push(Wording {
                        locale: Cow::Owned(language.clone()),
                        ..ENGLISH
                    });
                    templates.wordings.len() - 1
                }
            };
            over.apply(&mut templates.wordings[index]);
        }
        Ok(templates)
    }

    /// The wording for a locale: its language's, else English.
    pub fn wording(&self, locale: Option<&str>) -> &Wording {
        let language = locale.unwrap_or("en").split('-').next().unwrap_or("en");
        self.wordings
            .iter()
            .find(|w| w.locale.eq_ignore_ascii_case(language))
            .or_else(|| self.wordings.iter().find(|w| w.locale == "en"))
            .unwrap_or(&self.wordings[0])
    }
}

impl Overrides {
    fn apply(self, to: &mut Wording) {
        let set = |field: &mut Text, value: Option<String>| {
            if let Some(value) = value {
                *field = Cow::Owned(value);
            }
        };
        if let Some(decimal) = self.decimal {
            to.decimal = decimal;
        }
        if let Some(months) = self.months {
            to.months = months.map(Cow::Owned);
        }
        set(&mut to.greeting, self.greeting);
        set(&mut to.greeting_named, self.greeting_named);
        set(&mut to.your_plan, self.your_plan);
        set(&mut to.low_data, self.low_data);
        set(&mut to.low_data_amount, self.low_data_amount);
        set(&mut to.low_data_left, self.low_data_left);
        set(&mut to.expiry_soon, self.expiry_soon);
        set(&mut to.expiry_ended, self.expiry_ended);
        set(&mut to.expiry_within, self.expiry_within);
        set(&mut to.topup, self.topup);
        set(&mut to.topup_link, self.topup_link);
        set(&mut to.subject_low_data, self.subject_low_data);
        set(&mut to.subject_low_data_left, self.subject_low_data_left);
        set(&mut to.subject_expiry_soon, self.subject_expiry_soon);
        set(&mut to.subject_expiry_ended, self.subject_expiry_ended);
        set(&mut to.subject_expiry_within, self.subject_expiry_within);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_fields_add_languages_and_refuse_typos() {
        let templates = Templates::with_overrides(
            r#"{"en": {"low_data": "{greeting} only {percent} left on {plan}."},
                "pt-BR": {"greeting": "Olá,", "low_data": "{greeting} restam {percent} de {plan}."}}"#,
        )
        .unwrap();
        assert_eq!(
            templates.wording(Some("en-US")).low_data,
            "{greeting} only {percent} left on {plan}."
        );
        assert_eq!(
            templates.wording(Some("en")).expiry_ended,
            ENGLISH.expiry_ended,
            "the rest stays"
        );
        let portuguese = templates.wording(Some("pt"));
        assert_eq!(portuguese.locale, "pt");
        assert_eq!(portuguese.greeting, "Olá,");
        assert_eq!(
            portuguese.expiry_ended, ENGLISH.expiry_ended,
            "a new language starts from English"
        );
        assert_eq!(templates.wording(Some("es")).greeting, SPANISH.greeting);
        assert_eq!(templates.wording(Some("zz")).locale, "en");
        assert!(Templates::with_overrides(r#"{"en": {"low_dta": "x"}}"#)
            .unwrap_err()
            .to_string()
            .contains("unknown field"));
        assert!(Templates::with_overrides(r#"{"1!": {}}"#).is_err());
        assert!(Templates::with_overrides("[").is_err());
        let with_plans =
            Templates::with_overrides(r#"{"plans": {"airalo": {"eu-5": "Europe 5 GB"}}, "es": {"greeting": "Hola,"}}"#)
                .unwrap();
        assert_eq!(with_plans.wording(Some("es")).greeting, "Hola,");
        let bundle = crate::model::Bundle {
            reference: Some("eu-5".into()),
            name: None,
        };
        assert_eq!(
            with_plans
                .plans
                .name(crate::model::ProviderId::Airalo, Some(&bundle), "es"),
            Some("Europe 5 GB")
        );
        assert!(Templates::with_overrides(r#"{"plans": {"nosuch": {"p": "P"}}}"#).is_err());
    }
}
