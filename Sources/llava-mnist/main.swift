print("llava-mnist")
