"""Blueprints in sibling modules: url_prefix at creation and at registration, and a nested blueprint.

    feisty routes examples/blueprints
"""
import os

from flask import Flask

from views.admin import admin
from views.api import api
from views import shop

app = Flask(__name__)

# admin declares url_prefix="/admin" itself; api gets its prefix here; shop is mounted twice.
app.register_blueprint(admin)
app.register_blueprint(api, url_prefix="/api")
app.register_blueprint(shop.bp, url_prefix="/shop")
app.register_blueprint(shop.bp, url_prefix="/store", name="store")


@app.route("/")
def index():
    return "blueprints example"


@app.get("/about/")
def about():
    return "about"


if __name__ == "__main__":
    app.run(port=int(os.environ.get("PORT", "5001")))
