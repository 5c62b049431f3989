"""subdomain_matching with SERVER_NAME: rules match on the subdomain left of SERVER_NAME.

    feisty routes examples/hosts/subdomain_app.py
"""
from flask import Blueprint, Flask

app = Flask(__name__, subdomain_matching=True)
app.config["SERVER_NAME"] = "example.com:8080"

api = Blueprint("api", __name__, subdomain="api")


@api.route("/status")
def status():
    return {"ok": True}


@app.route("/")
def home():
    return "home"


@app.route("/", subdomain="<tenant>")
def tenant_home(tenant):
    return f"tenant {tenant}"


app.register_blueprint(api)

if __name__ == "__main__":
    app.run(port=8080)
