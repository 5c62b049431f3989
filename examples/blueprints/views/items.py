from flask import Blueprint

v1 = Blueprint("v1", __name__)


@v1.get("/items")
def list_items():
    return {"items": []}


@v1.post("/items")
def create_item():
    return {"id": 1}, 201


@v1.route("/items/<uuid:item_id>", methods=["GET", "PUT", "DELETE"], strict_slashes=False)
def item(item_id):
    return {"id": str(item_id)}
