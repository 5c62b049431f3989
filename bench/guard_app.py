# The app of bench/guard_bench.sh: feisty reads its routes (`/` is declared, `/nope/...` is not); the benchmark
# points feisty at a static nginx with --upstream, so this file is never run.
from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return "ok\n"


@app.route("/item/<int:item_id>")
def item(item_id):
    return f"item {item_id}\n"
