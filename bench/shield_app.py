# The Flask app behind bench/shield_bench.sh: served by gunicorn (2 sync workers), guarded by feisty or nginx.
#   GET  /        a small text answer (what the "good client" asks for)
#   POST /upload  reads the whole request body and answers its length (what slow-body attackers dribble into)
#   GET  /big     a 5 MB answer (what slow-read attackers sip at 1 KB/s)
from flask import Flask, Response, request

app = Flask(__name__)

BIG = b"x" * (5 * 1024 * 1024)


@app.route("/")
def index():
    return "ok\n"


@app.route("/upload", methods=["POST"])
def upload():
    return f"{len(request.get_data())}\n"


@app.route("/big")
def big():
    return Response(BIG, mimetype="application/octet-stream")


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=18090)
