db_password = "hunter2-from-tfvars"
