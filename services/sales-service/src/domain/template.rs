use std::str::FromStr;

use common::template::{self, Part};

use super::sms_text;

/// The SMS text, with placeholders filled per order: `{customer_name}`, `{customer_code}`,
/// `{item}`, `{amount}`, `{currency}`, `{order_id}`. Parsed when the service starts, so an
/// unknown placeholder stops it instead of reaching a customer's phone. `{{` and `}}`
/// stand for literal braces.
#[derive(Debug, Clone)]
pub struct MessageTemplate {
    parts: Vec<Part<Field>>,
}

#[derive(Debug, Clone, Copy)]
enum Field {
    CustomerName,
    CustomerCode,
    Item,
    Amount,
    Currency,
    OrderId,
}

/// The values one order puts into the template.
pub struct MessageValues<'a> {
    pub customer_name: &'a str,
    pub customer_code: &'a str,
    pub item: &'a str,
    pub amount: &'a str,
    pub currency: &'a str,
    pub order_id: &'a str,
}

impl MessageTemplate {
    pub const DEFAULT: &'static str =
        "Hi {customer_name}, we have received your order of {item} for {currency} {amount}. Thank you!";

    /// The message for `values`. Every value is sanitised first ([`sms_text::sanitised`]):
    /// whatever was stored, no value can break a line, reorder the text or add a link.
    pub fn render(&self, values: &MessageValues<'_>) -> String {
        let mut text = String::new();
        for part in &self.parts {
            let value = match part {
                Part::Text(literal) => {
                    text.push_str(literal);
                    continue;
                }
                Part::Placeholder(Field::CustomerName) => values.customer_name,
                Part::Placeholder(Field::CustomerCode) => values.customer_code,
                Part::Placeholder(Field::Item) => values.item,
                Part::Placeholder(Field::Amount) => values.amount,
                Part::Placeholder(Field::Currency) => values.currency,
                Part::Placeholder(Field::OrderId) => values.order_id,
            };
            text.push_str(&sms_text::sanitised(value));
        }
        text
    }
}

impl FromStr for MessageTemplate {
    type Err = String;

    fn from_str(template: &str) -> Result<Self, Self::Err> {
        let parts = template::parse(template, |name| match name {
            "customer_name" => Ok(Field::CustomerName),
            "customer_code" => Ok(Field::CustomerCode),
            "item" => Ok(Field::Item),
            "amount" => Ok(Field::Amount),
            "currency" => Ok(Field::Currency),
            "order_id" => Ok(Field::OrderId),
            other => Err(format!("unknown placeholder {{{other}}}")),
        })?;
        Ok(Self { parts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> MessageValues<'static> {
        MessageValues {
            customer_name: "Ada",
            customer_code: "CUS-000001",
            item: "Rice",
            amount: "56000.68",
            currency: "KES",
            order_id: "o-1",
        }
    }

    #[test]
    fn fills_every_placeholder() {
        let template: MessageTemplate = MessageTemplate::DEFAULT.parse().unwrap();
        assert_eq!(
            template.render(&values()),
            "Hi Ada, we have received your order of Rice for KES 56000.68. Thank you!"
        );
        let all: MessageTemplate = "{customer_code}/{order_id} {{literal}}".parse().unwrap();
        assert_eq!(all.render(&values()), "CUS-000001/o-1 {literal}");
    }

    #[test]
    fn values_cannot_add_lines_reorder_text_or_links() {
        let template: MessageTemplate = MessageTemplate::DEFAULT.parse().unwrap();
        let hostile = MessageValues {
            customer_name: "Ada\u{2028}Your account is locked, visit pay.example",
            item: "Rice\u{202E}gnirts",
            ..values()
        };
        assert_eq!(
            template.render(&hostile),
            "Hi Ada Your account is locked, visit, we have received your order of Ricegnirts for KES 56000.68. Thank you!"
        );
    }

    #[test]
    fn rejects_unknown_placeholders_and_stray_braces() {
        assert!("Hi {name}"
            .parse::<MessageTemplate>()
            .unwrap_err()
            .contains("{name}"));
        assert!("Hi }".parse::<MessageTemplate>().is_err());
        assert!("  ".parse::<MessageTemplate>().is_err());
    }
}
