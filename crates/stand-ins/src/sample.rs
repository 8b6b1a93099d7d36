//! Deterministic, realistic-looking sample data for local runs: the same flags give the
//! same people and providers on every start, so ids seen yesterday still work.

const FIRST_NAMES: [&str; 20] = [
    "Amina", "Kwame", "Wanjiru", "Chidi", "Fatuma", "Thabo", "Ada", "Grace", "Mei", "Lars",
    "Sofia", "Diego", "Priya", "Omar", "Hana", "Lucas", "Zanele", "Ikenna", "Nadia", "Tomas",
];

const LAST_NAMES: [&str; 20] = [
    "Okafor", "Mwangi", "Mensah", "Achieng", "Diallo", "Nkosi", "Lovelace", "Hopper", "Chen",
    "Larsen", "Rossi", "Garcia", "Sharma", "Haddad", "Tanaka", "Silva", "Dlamini", "Eze",
    "Kowalski", "Novak",
];

pub const CITIES: [&str; 12] = [
    "Nairobi",
    "Mombasa",
    "Kisumu",
    "Lagos",
    "Accra",
    "Kampala",
    "Kigali",
    "Dar es Salaam",
    "Johannesburg",
    "Cape Town",
    "London",
    "Manchester",
];

pub const SPECIALTIES: [&str; 10] = [
    "cardiology",
    "dermatology",
    "family medicine",
    "neurology",
    "obstetrics and gynaecology",
    "oncology",
    "orthopaedics",
    "paediatrics",
    "psychiatry",
    "radiology",
];

/// The `index`-th person: the first 400 are all different (first, last) pairs.
pub fn person(index: usize) -> (&'static str, &'static str) {
    let first = index % FIRST_NAMES.len();
    let last = (3 * first + index / FIRST_NAMES.len()) % LAST_NAMES.len();
    (FIRST_NAMES[first], LAST_NAMES[last])
}

/// A valid 10-digit US National Provider Identifier: 9 digits and their check digit.
pub fn npi(index: usize) -> String {
    let base = format!("1{:08}", (index * 7_919 + 1_234_567) % 100_000_000);
    let check = npi_check_digit(&base);
    format!("{base}{check}")
}

/// The Luhn check digit of an NPI's first 9 digits, computed with the `80840` prefix as
/// CMS specifies: from the right, every other digit is doubled, starting with the last.
fn npi_check_digit(base: &str) -> u32 {
    let sum: u32 = format!("80840{base}")
        .bytes()
        .rev()
        .enumerate()
        .map(|(position, byte)| {
            let digit = u32::from(byte - b'0');
            if position % 2 == 0 {
                let doubled = digit * 2;
                doubled / 10 + doubled % 10
            } else {
                digit
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npis_carry_their_check_digit() {
        // CMS's published example of a valid NPI is 1234567893.
        assert_eq!(npi_check_digit("123456789"), 3);
        let npis: std::collections::HashSet<String> = (0..50).map(npi).collect();
        assert_eq!(npis.len(), 50);
        for npi in npis {
            assert!(
                npi.len() == 10 && npi.bytes().all(|b| b.is_ascii_digit()),
                "{npi}"
            );
            assert_eq!(npi_check_digit(&npi[..9]).to_string(), &npi[9..]);
        }
    }

    #[test]
    fn people_do_not_repeat() {
        let people: std::collections::HashSet<_> = (0..400).map(person).collect();
        assert_eq!(people.len(), 400);
    }
}
