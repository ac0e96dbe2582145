"""The AWS edge: the only modules that import boto3/botocore. Adapters take a client from clients.py, declare the
IAM action of each method (iam.py) and translate every botocore error into a domain error (errors.py)."""
