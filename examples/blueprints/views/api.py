from flask import Blueprint

from .items import v1

api = Blueprint("api", __name__)
# Nested: v1's rules live under /api/v1 and its endpoints are named api.v1.*
api.register_blueprint(v1, url_prefix="/v1")


@api.route("/health")
def health():
    return {"ok": True}
