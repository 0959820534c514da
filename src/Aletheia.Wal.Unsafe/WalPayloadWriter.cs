namespace Aletheia.Wal;

/// <summary>
/// Serializes a record's payload in place, straight into ring memory. <paramref name="destination"/> is exactly
/// as long as the length passed to the append and is valid only during the call. The writer must be quick and must not
/// block or call back into the log: it holds ring space, and the flush thread reads each stripe in order, so the
/// records behind it in its stripe (and with them the log's durability) wait until it returns. If it throws, the record
/// is abandoned, no LSN is consumed and the exception reaches the caller of the append.
/// </summary>
public delegate void WalPayloadWriter<TState>(Span<byte> destination, TState state)
    where TState : allows ref struct;
