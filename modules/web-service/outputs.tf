output "target_group_id" {
  value = fg_target_group.this.id
}

output "path_pattern" {
  value = var.path_pattern
}

output "task_definition_arn" {
  value = fg_task_definition.this.arn
}

output "service_id" {
  value = fg_service.this.id
}
