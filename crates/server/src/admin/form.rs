//! The fields of an admin center form, as the browser sent them: repeated names (a multiple
//! `<select>`) and absent checkboxes included, so that a refused form can be shown again
//! exactly as it was filled in.

/// A submitted form's fields, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, trimmed; empty when absent.
    pub(crate) fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// Every non-empty value of `name`, trimmed.
    pub(crate) fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, v)| n == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }

    /// Whether the checkbox `name` was ticked (a checkbox is sent only when ticked).
    pub(crate) fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(n, v)| n == name && !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::Fields;

    #[test]
    fn repeated_names_and_checkboxes_read_as_sent() {
        let f = Fields(vec![
            ("approver".into(), "a".into()),
            ("approver".into(), " ".into()),
            ("approver".into(), "b ".into()),
            ("required".into(), "on".into()),
            ("maximum".into(), " PT8H ".into()),
        ]);
        assert_eq!(f.all("approver"), vec!["a", "b"]);
        assert!(f.checked("required"));
        assert!(!f.checked("missing"));
        assert_eq!(f.get("maximum"), "PT8H");
        assert_eq!(f.get("missing"), "");
    }
}
