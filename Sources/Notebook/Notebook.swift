// The notebook: command language, interpreter, workflows, rendering, line editor.
import Llava
