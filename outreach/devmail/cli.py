from flask.cli import AppGroup

devmail_cli = AppGroup("devmail", help="Development mail catcher.")
