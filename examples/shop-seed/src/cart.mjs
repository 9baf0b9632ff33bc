/**
 * Cart pricing for checkout-api: the subtotal of a cart's lines in integer cents (no floating-point money).
 */

/**
 * The subtotal of a cart in integer cents.
 * @param {{ sku: string, unitPriceCents: number, quantity: number }[]} lines
 * @returns {number}
 * @throws {RangeError} for a price or quantity that is not a non-negative integer
 */
export function subtotalCents(lines) {
  let total = 0;
  for (const line of lines) {
    for (const field of ['unitPriceCents', 'quantity']) {
      if (!Number.isInteger(line[field]) || line[field] < 0) {
        throw new RangeError(`line ${line.sku}: ${field} ${line[field]} is not a non-negative integer`);
      }
    }
    total += line.unitPriceCents * line.quantity;
  }
  return total;
}
