# Remote state: S3 bucket + DynamoDB lock table, one state file per environment.
# The backend block is a PARTIAL configuration: the environment-specific values are passed
# at init time so the same code serves every environment:
#
#   terraform init \
#     -backend-config="bucket=acme-platform-tfstate-123456789012" \
#     -backend-config="key=platform/prod/terraform.tfstate" \
#     -backend-config="region=eu-west-1" \
#     -backend-config="dynamodb_table=acme-platform-tflock" \
#     -backend-config="encrypt=true"
#
# or `terraform init -backend-config=backend/prod.s3.tfbackend` with a file holding those
# lines (see backend/example.s3.tfbackend). The state bucket and lock table are created once
# per account, outside this stack (bootstrap), with versioning, SSE-KMS and a public access
# block; the lock table has hash key `LockID` (S).
#
# For a throwaway local experiment, comment this block out to use local state.
terraform {
  backend "s3" {}
}
