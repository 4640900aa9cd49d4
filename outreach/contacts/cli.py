from flask.cli import AppGroup

contacts_cli = AppGroup("contacts", help="Import and export contacts.")
