//! Status columns as Rust enums (issue 16): a state is a variant the compiler checks,
//! not a string literal that a typo turns into a silent `false`.
//!
//! [`db_codes!`] makes an enum whose values are the column's codes. It travels as the
//! code (`"PAUSED"`), in server-function payloads and in the public API alike, so the
//! wire format is what it was when these were strings. On the server it is read from
//! and written to the `text` column directly; a code the enum does not know fails the
//! row's decoding with the column named, instead of falling through a match.

/// `db_codes! { /// doc \n Name { Variant = "CODE", ... } }`
#[macro_export]
macro_rules! db_codes {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every code, in the order of the variants.
            pub const CODES: &'static [&'static str] = &[$($code),+];

            /// The value stored in the database and sent on the wire.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn parse(code: &str) -> Option<$name> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let code = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::parse(&code).ok_or_else(|| {
                    serde::de::Error::unknown_variant(&code, $name::CODES)
                })
            }
        }

        $crate::text_code_sqlx!($name);
    };
}

/// Reads and writes an enum with `code()` and `parse()` as its `text` column's codes: a
/// code the enum does not know fails the row's decoding, naming the enum.
#[macro_export]
macro_rules! text_code_sqlx {
    ($name:ident) => {
        #[cfg(feature = "ssr")]
        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <String as sqlx::Type<sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <String as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        #[cfg(feature = "ssr")]
        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(
                value: sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let code = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
                $name::parse(code)
                    .ok_or_else(|| format!("{} has no code {code:?}", stringify!($name)).into())
            }
        }

        #[cfg(feature = "ssr")]
        impl sqlx::Encode<'_, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode_by_ref(&self.code(), buf)
            }
        }

        #[cfg(feature = "ssr")]
        impl sqlx::postgres::PgHasArrayType for $name {
            fn array_type_info() -> sqlx::postgres::PgTypeInfo {
                <String as sqlx::postgres::PgHasArrayType>::array_type_info()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    db_codes! {
        /// A test's own codes.
        Light { Red = "RED", Amber = "AMBER", Green = "GREEN" }
    }

    #[test]
    fn codes_travel_as_their_text() {
        assert_eq!(serde_json::to_string(&Light::Amber).unwrap(), "\"AMBER\"");
        assert_eq!(
            serde_json::from_str::<Light>("\"GREEN\"").unwrap(),
            Light::Green
        );
        let unknown = serde_json::from_str::<Light>("\"green\"").unwrap_err();
        assert!(unknown.to_string().contains("unknown variant"), "{unknown}");
        assert_eq!(Light::parse("RED"), Some(Light::Red));
        assert_eq!(Light::parse("BLUE"), None);
        assert_eq!(Light::CODES, ["RED", "AMBER", "GREEN"]);
        assert_eq!(Light::Red.to_string(), "RED");
    }
}
