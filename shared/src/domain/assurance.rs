//! How a session was authenticated: the methods used (`amr`, RFC 8176 names where they
//! exist) and the assurance level they reach (NIST SP 800-63B AAL1/AAL2).

use serde::{Deserialize, Serialize};

/// An authentication method used to start (or step up) a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Amr {
    /// A password (RFC 8176 `pwd`).
    Pwd,
    /// A time-based one-time password (RFC 8176 `otp`).
    Otp,
    /// A single-use recovery code (a look-up secret in SP 800-63B's terms).
    Recovery,
}

impl Amr {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pwd => "pwd",
            Self::Otp => "otp",
            Self::Recovery => "recovery",
        }
    }

    /// Whether the method is a second factor (something the user has).
    pub fn is_second_factor(self) -> bool {
        matches!(self, Self::Otp | Self::Recovery)
    }
}

/// The authenticator assurance level a session reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aal {
    /// One factor: a password.
    Aal1,
    /// A password and a second factor.
    Aal2,
}

/// The level that `methods` reach: AAL2 with a password and a second factor.
pub fn level(methods: &[Amr]) -> Aal {
    let password = methods.contains(&Amr::Pwd);
    if password && methods.iter().any(|m| m.is_second_factor()) {
        Aal::Aal2
    } else {
        Aal::Aal1
    }
}

/// What sessions that predate the field were started with: a password.
pub fn password_only() -> Vec<Amr> {
    vec![Amr::Pwd]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_factor_with_the_password_reaches_aal2() {
        assert_eq!(level(&[Amr::Pwd]), Aal::Aal1);
        assert_eq!(level(&[Amr::Pwd, Amr::Otp]), Aal::Aal2);
        assert_eq!(level(&[Amr::Pwd, Amr::Recovery]), Aal::Aal2);
        // A second factor alone is one factor.
        assert_eq!(level(&[Amr::Otp]), Aal::Aal1);
        assert_eq!(level(&[]), Aal::Aal1);
    }

    #[test]
    fn names_on_the_wire() {
        let json = serde_json::to_string(&(Aal::Aal2, [Amr::Pwd, Amr::Otp, Amr::Recovery]));
        assert_eq!(json.unwrap(), r#"["aal2",["pwd","otp","recovery"]]"#);
        for m in [Amr::Pwd, Amr::Otp, Amr::Recovery] {
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
        }
    }
}
