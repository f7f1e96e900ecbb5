//! The JavaScript side of every call: options in, errors and tensors out.

use burn::tensor::Tensor;
use js_sys::{Float32Array, Object, Reflect};
use kiln_core::data::image::ImageBatch;
use serde::de::DeserializeOwned;
use serde_aux::serde_introspection::serde_introspect;
use wasm_bindgen::prelude::*;

/// A call's options object, deserialised once into its typed form; `call` names the call in
/// the error (an unknown or mistyped field is one).
pub(crate) fn options<T: DeserializeOwned>(value: JsValue, call: &str) -> Result<T, JsError> {
    let invalid = |why: String| JsError::new(&format!("invalid options for {call}: {why}"));
    // serde-wasm-bindgen reads a struct's fields by name and never sees any other, so
    // `deny_unknown_fields` alone would let a misspelt `topk` pass unnoticed.
    if let Some(object) = value.dyn_ref::<Object>() {
        let known = serde_introspect::<T>();
        for key in Object::keys(object)
            .iter()
            .filter_map(|key| key.as_string())
        {
            if !known.contains(&key.as_str()) {
                return Err(invalid(format!(
                    "unknown field `{key}`, expected one of {}",
                    known.join(", ")
                )));
            }
        }
    }
    serde_wasm_bindgen::from_value(value).map_err(|e| invalid(e.to_string()))
}

/// A device tensor's images, read without blocking (a synchronous GPU read panics in browsers).
pub(crate) async fn read_images(images: Tensor<4>) -> Result<ImageBatch, JsError> {
    let data = images
        .into_data_async()
        .await
        .map_err(|e| JsError::new(&format!("reading images from the device failed: {e:?}")))?;
    ImageBatch::from_data(data).map_err(to_js)
}

/// A device tensor's values as f32, read without blocking; `what` names them in an error.
pub(crate) async fn read_values<const D: usize>(
    tensor: Tensor<D>,
    what: &str,
) -> Result<Vec<f32>, JsError> {
    tensor
        .into_data_async()
        .await
        .map_err(|e| JsError::new(&format!("reading {what} from the device failed: {e:?}")))?
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| JsError::new(&format!("reading {what}: {e:?}")))
}

/// `{ count, width, height, channels }` of `shape`, plus each named batch's pixels (channels
/// first) as a `Float32Array`.
pub(crate) fn image_object(
    shape: &ImageBatch,
    arrays: &[(&str, &ImageBatch)],
) -> Result<JsValue, JsError> {
    let object = Object::new().into();
    set_numbers(
        &object,
        &[
            ("count", shape.count as f64),
            ("width", shape.width as f64),
            ("height", shape.height as f64),
            ("channels", shape.channels as f64),
        ],
    )?;
    for (name, batch) in arrays {
        set(&object, name, Float32Array::from(&batch.pixels[..]).into())?;
    }
    Ok(object)
}

/// Set `object[key] = value` for each of `fields`.
pub(crate) fn set_numbers(object: &JsValue, fields: &[(&str, f64)]) -> Result<(), JsError> {
    for &(key, value) in fields {
        set(object, key, value.into())?;
    }
    Ok(())
}

fn set(object: &JsValue, key: &str, value: JsValue) -> Result<(), JsError> {
    Reflect::set(object, &key.into(), &value)
        .map(drop)
        .map_err(|_| JsError::new(&format!("could not set {key} on the result")))
}

/// Any error, as JavaScript's `Error` with its message.
pub(crate) fn to_js(error: impl ToString) -> JsError {
    JsError::new(&error.to_string())
}

/// `future`'s result as a JavaScript promise.
pub(crate) fn promise(
    future: impl Future<Output = Result<JsValue, JsError>> + 'static,
) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async move { future.await.map_err(JsValue::from) })
}
