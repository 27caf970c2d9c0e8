//! Masked views of normalised values: enough to recognise, not enough to use.

use super::value::{FieldType, NationalIdScheme};

/// The mask of a value (already normalised for its type); `category` is the field's data
/// category, which picks initials for names.
pub fn default_mask(t: FieldType, category: &str, value: &str) -> String {
    if category == "user.name" || category.starts_with("user.name.") {
        return initials(value);
    }
    match t {
        FieldType::Email => match value.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => stars(),
        },
        FieldType::Phone => keep_last(value, 4, |c| c.is_ascii_digit()),
        FieldType::CardNumber => {
            let last: String = value
                .chars()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("**** **** **** {last}")
        }
        FieldType::Iban => {
            let n = value.chars().count();
            let head: String = value.chars().take(2).collect();
            let tail: String = value.chars().skip(n.saturating_sub(4)).collect();
            format!("{head}{}{tail}", "*".repeat(n.saturating_sub(6)))
        }
        FieldType::NationalId(NationalIdScheme::UsSsn) => {
            keep_last(value, 4, |c| c.is_ascii_digit())
        }
        FieldType::NationalId(NationalIdScheme::UkNino) => {
            keep_last(value, 4, |c| c.is_ascii_alphanumeric())
        }
        FieldType::Date | FieldType::Datetime => value.get(..4).map_or_else(stars, str::to_owned),
        FieldType::IpAddress => network(value),
        FieldType::PostalAddress => address_country(value),
        FieldType::Json => stars(),
        FieldType::Text | FieldType::Number | FieldType::Boolean => stars(),
    }
}

/// An address masked to its country: `*** (GB)`.
fn address_country(value: &str) -> String {
    serde_json::from_str::<serde_json::Value>(value)
        .ok()
        .and_then(|v| v.get("country").and_then(|c| c.as_str()).map(str::to_owned))
        .map_or_else(stars, |c| format!("*** ({c})"))
}

fn stars() -> String {
    "***".to_owned()
}

/// Replaces every character that `maskable` accepts by `*`, but the last `keep` of them.
fn keep_last(value: &str, keep: usize, maskable: impl Fn(char) -> bool) -> String {
    let total = value.chars().filter(|c| maskable(*c)).count();
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if maskable(c) {
                seen += 1;
                if seen + keep <= total { '*' } else { c }
            } else {
                c
            }
        })
        .collect()
}

fn initials(value: &str) -> String {
    let parts: Vec<String> = value
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .map(|c| format!("{c}."))
        .collect();
    if parts.is_empty() {
        stars()
    } else {
        parts.join(" ")
    }
}

fn network(value: &str) -> String {
    match value.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.*", o[0], o[1], o[2])
        }
        Ok(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::*", s[0], s[1], s[2], s[3])
        }
        Err(_) => stars(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_show_just_enough() {
        let cases: [(FieldType, &str, &str, &str); 11] = [
            (
                FieldType::Email,
                "user.contact.email",
                "jane.doe@example.com",
                "j***@example.com",
            ),
            (
                FieldType::Phone,
                "user.contact.phone_number",
                "+442079460958",
                "+********0958",
            ),
            (
                FieldType::CardNumber,
                "user.financial",
                "4111111111111111",
                "**** **** **** 1111",
            ),
            (
                FieldType::Iban,
                "user.financial.bank_account",
                "GB82WEST12345698765432",
                "GB****************5432",
            ),
            (
                FieldType::NationalId(NationalIdScheme::UsSsn),
                "user.government_id",
                "123-45-6789",
                "***-**-6789",
            ),
            (
                FieldType::NationalId(NationalIdScheme::UkNino),
                "user.government_id",
                "AB123456C",
                "*****456C",
            ),
            (
                FieldType::Date,
                "user.demographic.date_of_birth",
                "1990-07-14",
                "1990",
            ),
            (
                FieldType::IpAddress,
                "user.device.ip_address",
                "192.0.2.77",
                "192.0.2.*",
            ),
            (
                FieldType::IpAddress,
                "user.device.ip_address",
                "2001:db8:1:2::77",
                "2001:db8:1:2::*",
            ),
            (FieldType::Text, "user.name", "Jane Mary Doe", "J. M. D."),
            (
                FieldType::Text,
                "user.contact.address",
                "1 Main Street",
                "***",
            ),
        ];
        for (t, cat, value, want) in cases {
            assert_eq!(default_mask(t, cat, value), want, "{t:?}");
        }
    }
}
