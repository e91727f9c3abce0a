/** XEP-0004 data forms, as far as a room reads them: the form type and each field's values. */
import type { Element } from "@switchboard/xml";

/** The FORM_TYPE hidden field's value (XEP-0068), or undefined. */
export function formType(form: Element): string | undefined {
  return formFields(form).get("FORM_TYPE")?.[0];
}

/** var → values, in the order given; a field without values maps to []. */
export function formFields(form: Element): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  for (const field of form.getChildren("field")) {
    const name = field.attrs.var;
    if (name === undefined) continue;
    fields.set(name, field.getChildren("value").map((v) => v.text()));
  }
  return fields;
}
