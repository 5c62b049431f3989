from flask import Blueprint, request

admin = Blueprint("admin", __name__, url_prefix="/admin")


@admin.route("/")
def dashboard():
    return "admin"


@admin.route("/users/<int:user_id>", methods=["GET", "POST"])
def user(user_id):
    return {"user": user_id, "method": request.method}


@admin.delete("/users/<int:user_id>")
def delete_user(user_id):
    return "", 204
