"""An application factory in a package (`feisty routes examples/factory`, or from examples/:
`feisty routes 'factory:create_app("testing")'`)."""
from flask import Flask


def create_app(config=None):
    app = Flask(__name__, static_url_path="/assets")
    app.config.from_mapping(SECRET_KEY="dev", TESTING=config == "testing")
    if isinstance(config, dict):
        app.config.update(config)

    from .auth import auth
    from . import blog

    app.register_blueprint(auth)
    app.register_blueprint(blog.bp)
    app.add_url_rule("/", endpoint="index")

    @app.route("/healthz")
    def healthz():
        return "ok"

    return app
