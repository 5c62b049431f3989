"""A module without any Flask app or factory."""
import json


def handler():
    return json.dumps({})
