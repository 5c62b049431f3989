from flask import Flask

app = Flask(__name__)
print("raises.py: about to fail")


def load_settings():
    raise RuntimeError("DATABASE_URL is not set")


settings = load_settings()
