from flask import Blueprint

bp = Blueprint("shop", __name__)


@bp.route("/")
def front():
    return "shop"


@bp.route("/cart", methods=("GET", "POST"))
def cart():
    return "cart"
