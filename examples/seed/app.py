import json
from flask import Flask
app = Flask(__name__)

@app.route('/')
def overview():
    return json.dumps({"status": "ok"})

@app.route('/user/<username>')
def getuser(user):
    raise Exception("user unknown")

@app.route('/<int:year>')
def getyear(year):
    return str(year)

if __name__ == '__main__':
    app.run(host="0.0.0.0", port=8080)

