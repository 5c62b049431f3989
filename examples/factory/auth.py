from flask import Blueprint

auth = Blueprint("auth", __name__, url_prefix="/auth")


@auth.route("/register", methods=("GET", "POST"))
def register():
    return "register"


@auth.route("/login", methods=("GET", "POST"))
def login():
    return "login"


@auth.route("/logout")
def logout():
    return "logout"
