//! Configuration layering with the `config` crate.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path} does not exist")]
    MissingFile { path: PathBuf },
    #[error("invalid configuration: {0}")]
    Invalid(#[from] config::ConfigError),
    #[error("command-line flags: {0}")]
    Flags(String),
}

/// The sources of one daemon's configuration, lowest precedence first: the
/// struct's `Default`, a TOML file, environment variables `PREFIX__KEY` (nested keys
/// joined by `__`, e.g. `SEMCOM_RECEIVER__QUIC_LISTEN`), then flags.
#[derive(Debug, Default)]
pub struct Layers {
    pub file: Option<PathBuf>,
    /// Environment prefix such as `SEMCOM_RECEIVER`.
    pub env_prefix: String,
    /// Flag overrides as (dotted key, value), applied last.
    pub overrides: Vec<(String, String)>,
}

impl Layers {
    pub fn new(env_prefix: &str) -> Self {
        Self { env_prefix: env_prefix.to_owned(), ..Self::default() }
    }

    pub fn file(mut self, path: Option<&Path>) -> Self {
        self.file = path.map(Path::to_path_buf);
        self
    }

    /// Adds a flag override when the flag was given.
    pub fn set(mut self, key: &str, value: Option<impl ToString>) -> Self {
        if let Some(v) = value {
            self.overrides.push((key.to_owned(), v.to_string()));
        }
        self
    }

    /// Adds an override for every field of `flags` that was given (is not `None`),
    /// under the field's serialised name.
    pub fn set_all(mut self, flags: &impl Serialize) -> Result<Self, ConfigError> {
        let value = serde_json::to_value(flags).map_err(|e| ConfigError::Flags(e.to_string()))?;
        let serde_json::Value::Object(fields) = value else {
            return Err(ConfigError::Flags(format!("flags serialise to {value}, not to a set of fields")));
        };
        for (key, value) in fields {
            match value {
                serde_json::Value::Null => {}
                serde_json::Value::String(s) => self.overrides.push((key, s)),
                other => self.overrides.push((key, other.to_string())),
            }
        }
        Ok(self)
    }
}

/// Builds `T` from its layers. `T` must be `#[serde(default)]` so every layer may be
/// partial.
pub fn load<T: DeserializeOwned>(layers: &Layers) -> Result<T, ConfigError> {
    let mut builder = config::Config::builder();
    if let Some(path) = &layers.file {
        if !path.exists() {
            return Err(ConfigError::MissingFile { path: path.clone() });
        }
        builder = builder.add_source(config::File::from(path.as_path()).format(config::FileFormat::Toml));
    }
    builder = builder.add_source(
        config::Environment::with_prefix(&layers.env_prefix)
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            // Lists in the environment are comma-separated.
            .list_separator(",")
            .with_list_parse_key("trust.pinned"),
    );
    for (key, value) in &layers.overrides {
        builder = builder.set_override(key.as_str(), value.as_str())?;
    }
    Ok(builder.build()?.try_deserialize()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Default, PartialEq)]
    #[serde(default)]
    struct Inner {
        depth: u32,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(default)]
    struct Cfg {
        name: String,
        port: u16,
        inner: Inner,
        trust: Trust,
    }

    #[derive(Debug, Deserialize, Default, PartialEq)]
    #[serde(default)]
    struct Trust {
        pinned: Vec<String>,
    }

    impl Default for Cfg {
        fn default() -> Self {
            Self { name: "default".into(), port: 1, inner: Inner { depth: 7 }, trust: Trust::default() }
        }
    }

    #[test]
    fn file_then_env_then_flags() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "name = \"file\"\nport = 2\n[inner]\ndepth = 3\n").expect("write");

        let cfg: Cfg = load(&Layers::new("SEMCOM_TEST_A").file(Some(&path))).expect("load");
        assert_eq!(cfg, Cfg { name: "file".into(), port: 2, inner: Inner { depth: 3 }, trust: Trust::default() });

        // A unique prefix keeps this test independent of the others' environment.
        std::env::set_var("SEMCOM_TEST_B__PORT", "5");
        std::env::set_var("SEMCOM_TEST_B__INNER__DEPTH", "9");
        std::env::set_var("SEMCOM_TEST_B__TRUST__PINNED", "ab,cd");
        let layers = Layers::new("SEMCOM_TEST_B").file(Some(&path)).set("name", Some("flag"));
        let cfg: Cfg = load(&layers).expect("load");
        let pins = Trust { pinned: vec!["ab".into(), "cd".into()] };
        assert_eq!(cfg, Cfg { name: "flag".into(), port: 5, inner: Inner { depth: 9 }, trust: pins });
    }

    /// Flags given as a struct override the keys named by its fields, dotted keys
    /// included; flags not given leave the layers below alone.
    #[test]
    fn flags_set_the_keys_their_fields_name() {
        #[derive(serde::Serialize)]
        struct Flags {
            name: Option<String>,
            port: Option<u16>,
            #[serde(rename = "inner.depth")]
            depth: Option<u32>,
        }
        std::env::set_var("SEMCOM_TEST_D__PORT", "5");
        let flags = Flags { name: Some("flag".into()), port: None, depth: Some(4) };
        let cfg: Cfg = load(&Layers::new("SEMCOM_TEST_D").set_all(&flags).expect("flags")).expect("load");
        let expected = Cfg { name: "flag".into(), port: 5, inner: Inner { depth: 4 }, trust: Trust::default() };
        assert_eq!(cfg, expected);
        assert!(Layers::new("SEMCOM_TEST_D").set_all(&3).is_err());
    }

    #[test]
    fn defaults_fill_missing_and_missing_file_is_an_error() {
        let cfg: Cfg = load(&Layers::new("SEMCOM_TEST_C")).expect("load");
        assert_eq!(cfg, Cfg::default());
        let err = load::<Cfg>(&Layers::new("SEMCOM_TEST_C").file(Some(Path::new("/nonexistent/x.toml"))));
        assert!(matches!(err, Err(ConfigError::MissingFile { .. })));
    }
}
