"""The schemas of the dataset, installed as ``sergetrotsky.schema`` (package data only)."""
