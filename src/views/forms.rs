//! Field errors for re-rendered forms: each message sits next to its field.

use crate::domain::ValidationError;

#[derive(Debug, Clone, Default)]
pub struct FieldErrors(Vec<ValidationError>);

impl FieldErrors {
    pub fn new() -> Self {
        FieldErrors(Vec::new())
    }

    /// Keeps the parsed value, or records why it could not be parsed.
    pub fn take<T>(&mut self, result: Result<T, ValidationError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(e);
                None
            }
        }
    }

    pub fn push(&mut self, e: ValidationError) {
        if self.get(e.field).is_none() {
            self.0.push(e);
        }
    }

    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.push(ValidationError::new(field, message));
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }

    pub fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &ValidationError> {
        self.0.iter()
    }
}

impl From<Vec<ValidationError>> for FieldErrors {
    /// Each error next to its field (the first per field).
    fn from(errors: Vec<ValidationError>) -> Self {
        let mut out = FieldErrors::new();
        errors.into_iter().for_each(|e| out.push(e));
        out
    }
}
