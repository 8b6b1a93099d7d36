use std::str::FromStr;

/// The SMS text, with placeholders filled per order: `{customer_name}`, `{customer_code}`,
/// `{item}`, `{amount}`, `{currency}`, `{order_id}`. Parsed when the service starts, so an
/// unknown placeholder stops it instead of reaching a customer's phone. `{{` and `}}`
/// stand for literal braces.
#[derive(Debug, Clone)]
pub struct MessageTemplate {
    parts: Vec<Part>,
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

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Field(Field),
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

    pub fn render(&self, values: &MessageValues<'_>) -> String {
        let mut text = String::new();
        for part in &self.parts {
            text.push_str(match part {
                Part::Text(literal) => literal,
                Part::Field(Field::CustomerName) => values.customer_name,
                Part::Field(Field::CustomerCode) => values.customer_code,
                Part::Field(Field::Item) => values.item,
                Part::Field(Field::Amount) => values.amount,
                Part::Field(Field::Currency) => values.currency,
                Part::Field(Field::OrderId) => values.order_id,
            });
        }
        text
    }
}

impl FromStr for MessageTemplate {
    type Err = String;

    fn from_str(template: &str) -> Result<Self, Self::Err> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = template.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                    let field = match name.as_str() {
                        "customer_name" => Field::CustomerName,
                        "customer_code" => Field::CustomerCode,
                        "item" => Field::Item,
                        "amount" => Field::Amount,
                        "currency" => Field::Currency,
                        "order_id" => Field::OrderId,
                        other => return Err(format!("unknown placeholder {{{other}}}")),
                    };
                    parts.push(Part::Text(std::mem::take(&mut text)));
                    parts.push(Part::Field(field));
                }
                '}' => return Err("a lone `}` (write `}}` for a literal brace)".into()),
                other => text.push(other),
            }
        }
        parts.push(Part::Text(text));
        if template.trim().is_empty() {
            return Err("must not be empty".into());
        }
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
    fn rejects_unknown_placeholders_and_stray_braces() {
        assert!("Hi {name}"
            .parse::<MessageTemplate>()
            .unwrap_err()
            .contains("{name}"));
        assert!("Hi }".parse::<MessageTemplate>().is_err());
        assert!("  ".parse::<MessageTemplate>().is_err());
    }
}
