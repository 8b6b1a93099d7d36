//! ISO 4217 currency codes that orders may be priced in.
//!
//! List one of ISO 4217 as published 2026-01-01 (the PyPI `iso4217` package's copy of the
//! maintenance agency's table), without the entries that are no money a customer pays
//! in: fund codes (`IsFund`: BOV, CHE, CHW, CLF, COU, MXV, USN, UYI), precious metals,
//! bond-market and accounting units, SDR, Sucre, and the testing (`XTS`) and no-currency
//! (`XXX`) codes. Sorted, so a lookup is a binary search. Update it with an ISO amendment.

/// 156 codes, sorted.
const CODES: [&str; 156] = [
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BHD",
    "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
    "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN",
    "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD",
    "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES",
    "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL",
    "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN",
    "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP",
    "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK",
    "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT",
    "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UYW", "UZS", "VED",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// Whether `code` (three upper-case letters) is a currency of the list.
pub fn is_currency(code: &str) -> bool {
    CODES.binary_search(&code).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_and_holds_what_orders_use() {
        assert!(CODES.windows(2).all(|pair| pair[0] < pair[1]));
        for code in ["KES", "TZS", "UGX", "RWF", "USD", "EUR", "XOF", "ZWG"] {
            assert!(is_currency(code), "{code}");
        }
        for code in ["ZZZ", "XTS", "XXX", "XAU", "BOV", "ZWL", "kes", "KE"] {
            assert!(!is_currency(code), "{code}");
        }
    }
}
