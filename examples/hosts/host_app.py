"""host_matching: rules match on the full Host, with variables in the host part.

    feisty routes examples/hosts/host_app.py
"""
from flask import Flask

app = Flask(__name__, host_matching=True, static_host="static.example.com")


@app.route("/", host="example.com")
def home():
    return "home"


@app.route("/", host="<user>.users.example.com")
def user_home(user):
    return f"home of {user}"


@app.route("/api/<int:id>", host="api.example.com", methods=["GET", "PUT"])
def api_item(id):
    return str(id)
