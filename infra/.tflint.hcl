# tflint (run by .github/workflows/pr.yml after terraform init/validate): the Terraform
# language's recommended rules and the AWS ruleset (invalid instance types, regions, ...).
config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "recommended"
}

plugin "aws" {
  enabled = true
  version = "0.39.0"
  source  = "github.com/terraform-linters/tflint-ruleset-aws"
}
