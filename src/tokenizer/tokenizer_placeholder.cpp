namespace dsinfer::tokenizer {}
