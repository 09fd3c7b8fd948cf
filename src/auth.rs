//! Who is calling. A bearer token resolves (through its sha-256, the only
//! form stored) to a user with exactly one role; a department user is bound
//! to one department and sees nothing of the others.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Submits, lists and cancels its own department's tasks; sees its
    /// flights and imagery.
    Department,
    /// Sees every flight and task; pauses, resumes, returns and lands drones.
    Pilot,
    /// Manages departments, quotas, users and tokens; reads the audit log.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Department => "department",
            Role::Pilot => "pilot",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "department" => Some(Role::Department),
            "pilot" => Some(Role::Pilot),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub role: Role,
    /// Some for department users (their one department), None otherwise.
    pub department: Option<String>,
}

impl Caller {
    /// Whether this caller may read data that belongs to `department_id`.
    pub fn may_see(&self, department_id: &str) -> bool {
        match self.role {
            Role::Department => self.department.as_deref() == Some(department_id),
            Role::Pilot | Role::Admin => true,
        }
    }
}

/// sha-256 of a token, hex: tokens are stored hashed, never as given.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random API token (192 bits), shown to its owner once.
pub fn random_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    format!("sky_{}", hex::encode(bytes))
}

/// Why an Authorization header gives no token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    #[error("missing `Authorization: Bearer <token>` header")]
    Missing,
    #[error("Authorization header is not text")]
    NotText,
    #[error("Authorization must be `Bearer <token>`")]
    NotBearer,
}

/// The token of an `Authorization: Bearer <token>` header value.
pub fn bearer(header: Option<&[u8]>) -> Result<&str, BearerError> {
    let value = std::str::from_utf8(header.ok_or(BearerError::Missing)?)
        .map_err(|_| BearerError::NotText)?;
    let token = value
        .strip_prefix("Bearer ")
        .ok_or(BearerError::NotBearer)?
        .trim();
    if token.is_empty() {
        return Err(BearerError::NotBearer);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn department_callers_see_only_their_department() {
        let urban = Caller {
            user_id: "u".into(),
            role: Role::Department,
            department: Some("urban".into()),
        };
        assert!(urban.may_see("urban"));
        assert!(!urban.may_see("environment"));
        let pilot = Caller {
            user_id: "p".into(),
            role: Role::Pilot,
            department: None,
        };
        assert!(pilot.may_see("environment"));
    }

    #[test]
    fn bearer_header_is_parsed_or_refused_with_the_reason() {
        assert_eq!(bearer(Some(b"Bearer abc ")), Ok("abc"));
        assert_eq!(bearer(None), Err(BearerError::Missing));
        assert_eq!(bearer(Some(b"Basic abc")), Err(BearerError::NotBearer));
        assert_eq!(bearer(Some(b"Bearer  ")), Err(BearerError::NotBearer));
        assert_eq!(bearer(Some(&[0xff, 0xfe])), Err(BearerError::NotText));
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in [Role::Department, Role::Pilot, Role::Admin] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
