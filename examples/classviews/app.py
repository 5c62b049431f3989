"""Class-based views: MethodView (methods from the handler methods) and View (explicit methods)."""
from flask import Flask, jsonify, redirect
from flask.views import MethodView, View

app = Flask(__name__)


class ItemAPI(MethodView):
    init_every_request = False

    def get(self, item_id):
        return jsonify(id=item_id)

    def patch(self, item_id):
        return jsonify(id=item_id, patched=True)

    def delete(self, item_id):
        return "", 204


class ItemListAPI(MethodView):
    def get(self):
        return jsonify([])

    def post(self):
        return jsonify(id=1), 201


class AuditedItemListAPI(ItemListAPI):
    """Inherits get/post and adds put: methods come from the whole class hierarchy."""

    def put(self):
        return jsonify(replaced=True)


class HelloView(View):
    methods = ["GET", "POST"]

    def dispatch_request(self):
        return "hello"


class PingView(View):
    def dispatch_request(self):
        return "pong"


def about():
    return "about"


app.add_url_rule("/items/", view_func=ItemListAPI.as_view("items"))
app.add_url_rule("/items/<int:item_id>", view_func=ItemAPI.as_view("item"))
app.add_url_rule("/audited/", view_func=AuditedItemListAPI.as_view("audited"))
app.add_url_rule("/hello", view_func=HelloView.as_view("hello"))
app.add_url_rule("/ping", "ping", PingView.as_view("ping_view"))
app.add_url_rule("/about", view_func=about)
app.add_url_rule("/legacy", "legacy", redirect_to="/about")


@app.route("/old/<int:item_id>")
def old_item(item_id):
    return redirect(f"/items/{item_id}")


if __name__ == "__main__":
    app.run()
