# `flask` commands run in this folder find the app here (python-dotenv reads this file;
# a FLASK_APP already set in the environment wins)
FLASK_APP=registry:create_app
