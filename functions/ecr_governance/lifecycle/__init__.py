"""ECR lifecycle policies evaluated offline: model and parser (policy), validator (validate), exact evaluator
(evaluate) and the preview (preview). Pure: the live preview reads images through the ImageSource port."""
