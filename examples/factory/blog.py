from flask import Blueprint

bp = Blueprint("blog", __name__)


@bp.route("/")
def index():
    return "posts"


@bp.route("/create", methods=("GET", "POST"))
def create():
    return "create"


@bp.route("/<int:id>/update", methods=("GET", "POST"))
def update(id):
    return "update"


@bp.route("/<int:id>/delete", methods=("POST",))
def delete(id):
    return "delete"
