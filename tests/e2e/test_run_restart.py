"""`feisty run` heals a crashed app and routes by the route table of the instance that is running now."""
import time

import requests


APP = '''
import os
from flask import Flask

# Each start registers a route named after its generation: the route table differs across restarts.
counter = os.environ["GENERATION_FILE"]
generation = int(open(counter).read()) + 1 if os.path.exists(counter) else 1
open(counter, "w").write(str(generation))

app = Flask(__name__)

@app.route("/")
def index():
    return str(generation)

@app.route(f"/v{generation}")
def versioned():
    return f"v{generation}"

@app.route("/crash", methods=["POST"])  # not idempotent: feisty answers 502 instead of sending it again
def crash():
    os._exit(3)

if __name__ == "__main__":
    app.run(port=5077)
'''


def test_a_crashed_app_is_restarted_and_its_new_routes_are_used(start_feisty, tmp_path):
    app = tmp_path / "generations.py"
    app.write_text(APP)
    feisty = start_feisty(str(app), env={"GENERATION_FILE": str(tmp_path / "generation")})
    assert requests.get(feisty.base + "/v1").text == "v1"
    assert requests.get(feisty.base + "/v2").status_code == 404  # not declared by this instance

    crashed = requests.post(feisty.base + "/crash", timeout=5)
    assert crashed.status_code == 502 and "crashed" in crashed.text  # the app died under this request

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if requests.get(feisty.base + "/", timeout=2).text == "2":
                break
        except requests.RequestException:
            pass
        time.sleep(0.1)
    assert requests.get(feisty.base + "/").text == "2", feisty.output
    assert requests.get(feisty.base + "/v2").text == "v2"
    assert requests.get(feisty.base + "/v1").status_code == 404  # the old route is gone with the old instance
    assert feisty.proc.poll() is None
    assert "event=crash instance=1" in feisty.output
