//! Money: what a request and a stored item cost at AWS's published on-demand prices,
//! from the units and CPU time a run measured. The prices are constants, named with
//! their source and date, so a reader can check them and a later run can update them.

/// Where the prices below hold.
pub const REGION: &str = "us-east-1 (N. Virginia)";
/// DynamoDB on-demand, Standard table class, per million read / write request units
/// (<https://aws.amazon.com/dynamodb/pricing/on-demand/>, the prices since AWS halved
/// on-demand throughput prices on 1 November 2024).
pub const READ_UNITS_PER_MILLION: f64 = 0.125;
pub const WRITE_UNITS_PER_MILLION: f64 = 0.625;
/// DynamoDB Standard storage per GB-month beyond the free 25 GB (same page).
pub const STORAGE_PER_GB_MONTH: f64 = 0.25;
/// The cluster's nodes (`infra/variables.tf` `node_instance_types`): Linux on-demand
/// per hour, and its vCPUs (<https://aws.amazon.com/ec2/pricing/on-demand/>).
pub const NODE: &str = "m6i.large";
pub const NODE_PER_HOUR: f64 = 0.096;
pub const NODE_VCPUS: f64 = 2.0;
/// The share of its CPU request a replica uses before the HPA adds one
/// (`charts/platform/values-production.yaml` `targetCPUUtilizationPercentage`): the
/// rest is headroom that is paid for too.
pub const HPA_TARGET_UTILISATION: f64 = 0.65;
/// The load the monthly figures assume, per route.
pub const LOAD_PER_SECOND: f64 = 100.0;
/// AWS bills a month as 730 hours.
const SECONDS_PER_MONTH: f64 = 730.0 * 3600.0;

/// One route's money per million requests, from its units and CPU per request.
pub struct RouteCost {
    pub dynamodb: f64,
    pub compute: f64,
}

impl RouteCost {
    pub fn new(read_units: f64, write_units: f64, cpu_us: f64) -> Self {
        // A million requests of `cpu_us` each take `cpu_us` CPU-seconds.
        let vcpu_hours = cpu_us / 3600.0;
        Self {
            dynamodb: read_units * READ_UNITS_PER_MILLION + write_units * WRITE_UNITS_PER_MILLION,
            compute: vcpu_hours * NODE_PER_HOUR / NODE_VCPUS / HPA_TARGET_UTILISATION,
        }
    }

    pub fn per_million(&self) -> f64 {
        self.dynamodb + self.compute
    }

    /// A month of [`LOAD_PER_SECOND`] requests.
    pub fn per_month(&self) -> f64 {
        self.per_million() * LOAD_PER_SECOND * SECONDS_PER_MONTH / 1e6
    }
}

/// A month's storage of a million items of `billed_bytes_per_item` each.
pub fn storage_per_million_items_month(billed_bytes_per_item: f64) -> f64 {
    billed_bytes_per_item * 1e6 / (1u64 << 30) as f64 * STORAGE_PER_GB_MONTH
}

/// The assumptions under a cost table, in one paragraph.
pub fn assumptions() -> String {
    format!(
        "Prices: {REGION}, on-demand. DynamoDB Standard: ${READ_UNITS_PER_MILLION} per million read \
         request units, ${WRITE_UNITS_PER_MILLION} per million write request units, \
         ${STORAGE_PER_GB_MONTH} per GB-month (first 25 GB free; \
         <https://aws.amazon.com/dynamodb/pricing/on-demand/>). Compute: {NODE} nodes at \
         ${NODE_PER_HOUR}/h for {NODE_VCPUS} vCPUs (<https://aws.amazon.com/ec2/pricing/on-demand/>), \
         divided by the HPA's {:.0} % target utilisation (the headroom is paid for too). A month is \
         730 h; the monthly column assumes {LOAD_PER_SECOND} requests/s on the route. Not included: \
         the EKS control plane ($0.10/h per cluster), the load balancer, data transfer, logs, \
         and the prices AWS may have changed since (not re-checked from this machine, which \
         has no internet access).",
        HPA_TARGET_UTILISATION * 100.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_requests_cost_their_units_and_their_cpu() {
        // One read unit a request: a million of them cost the price of a million units.
        let read = RouteCost::new(1.0, 0.0, 0.0);
        assert!((read.dynamodb - READ_UNITS_PER_MILLION).abs() < 1e-12);
        // 3600 us of CPU a request: a million of them take one vCPU-hour, paid with headroom.
        let cpu = RouteCost::new(0.0, 0.0, 3600.0);
        let vcpu_hour = NODE_PER_HOUR / NODE_VCPUS;
        assert!((cpu.compute - vcpu_hour / HPA_TARGET_UTILISATION).abs() < 1e-12);
        // 100 requests/s for 730 h is 262.8 million requests.
        assert!((read.per_month() - 262.8 * READ_UNITS_PER_MILLION).abs() < 1e-9);
    }

    #[test]
    fn a_million_items_of_a_kibibyte_take_about_a_gigabyte() {
        let month = storage_per_million_items_month(1024.0);
        assert!((month - 1e6 * 1024.0 / (1u64 << 30) as f64 * STORAGE_PER_GB_MONTH).abs() < 1e-12);
        assert!(month > 0.23 && month < 0.24, "{month}");
    }
}
