//! The 2-bit field values of the US sections.
//!
//! Every US field is an `Int(2)` whose values 0, 1 and 2 the section specifications define;
//! 3 is undefined. Each enum keeps 3 as `Reserved` (the raw-value fallback: with two bits it is
//! the only value left), so decoding never fails on it and re-encoding is lossless.

use serde::{Deserialize, Serialize};

/// Conversion between a 2-bit wire value and an enum.
pub(crate) trait TwoBit: Copy {
    fn from_bits(raw: u8) -> Self;
    fn bits(self) -> u8;
}

macro_rules! two_bit_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $(#[$doc0:meta])* $v0:ident,
            $(#[$doc1:meta])* $v1:ident,
            $(#[$doc2:meta])* $v2:ident $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[$doc0])*
            #[default]
            $v0,
            $(#[$doc1])*
            $v1,
            $(#[$doc2])*
            $v2,
            /// 3: not defined by the specification; kept so that decoding is lossless.
            Reserved,
        }

        impl $name {
            /// The value for a 2-bit wire value (`None` above 3).
            #[must_use]
            pub fn from_raw(raw: u8) -> Option<Self> {
                match raw {
                    0 => Some(Self::$v0),
                    1 => Some(Self::$v1),
                    2 => Some(Self::$v2),
                    3 => Some(Self::Reserved),
                    _ => None,
                }
            }

            /// The 2-bit wire value.
            #[must_use]
            pub fn raw(self) -> u8 {
                match self {
                    Self::$v0 => 0,
                    Self::$v1 => 1,
                    Self::$v2 => 2,
                    Self::Reserved => 3,
                }
            }
        }

        impl TwoBit for $name {
            fn from_bits(raw: u8) -> Self {
                Self::from_raw(raw & 0b11).unwrap_or(Self::Reserved)
            }

            fn bits(self) -> u8 {
                self.raw()
            }
        }
    };
}

two_bit_enum! {
    /// Whether a notice was given (the `…Notice` fields).
    Notice {
        /// 0: not applicable (e.g. the business does not sell personal data).
        NotApplicable,
        /// 1: yes, notice was provided.
        Provided,
        /// 2: no, notice was not provided.
        NotProvided,
    }
}

two_bit_enum! {
    /// An opt-out choice (the `…OptOut` fields; California's sensitive data categories).
    OptOut {
        /// 0: not applicable (the matching notice was not applicable or not given).
        NotApplicable,
        /// 1: the consumer opted out.
        OptedOut,
        /// 2: the consumer did not opt out.
        DidNotOptOut,
    }
}

two_bit_enum! {
    /// A consent choice (sensitive data categories, known-child and personal data consents).
    Consent {
        /// 0: not applicable (the business does not process that data).
        NotApplicable,
        /// 1: no consent.
        NoConsent,
        /// 2: consent.
        Consent,
    }
}

two_bit_enum! {
    /// An MSPA flag: `MspaCoveredTransaction` (where 0 is not allowed),
    /// `MspaOptOutOptionMode`, `MspaServiceProviderMode`.
    MspaMode {
        /// 0: not applicable.
        NotApplicable,
        /// 1: yes.
        Yes,
        /// 2: no.
        No,
    }
}
