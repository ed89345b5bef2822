namespace dsinfer::model {}
