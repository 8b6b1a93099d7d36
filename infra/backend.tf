# Remote state: one S3 object per environment, locked with an S3 lock file (use_lockfile,
# Terraform >= 1.10; the DynamoDB lock table is deprecated).
# The backend block is a PARTIAL configuration: the environment-specific values are passed
# at init time so the same code serves every environment:
#
#   terraform init \
#     -backend-config="bucket=acme-platform-tfstate-123456789012" \
#     -backend-config="key=platform/prod/terraform.tfstate" \
#     -backend-config="region=eu-west-1" \
#     -backend-config="use_lockfile=true" \
#     -backend-config="encrypt=true"
#
# or `terraform init -backend-config=backend/prod.s3.tfbackend` with a file holding those
# lines (see backend/example.s3.tfbackend). The state bucket is created once
# per account, outside this stack (bootstrap, docs/deploy.md), with versioning, SSE-KMS and
# a public access block.
#
# For a throwaway local experiment, comment this block out to use local state.
terraform {
  backend "s3" {}
}
