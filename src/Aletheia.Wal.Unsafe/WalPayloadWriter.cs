namespace Aletheia.Wal;

/// <summary>
/// Serializes a record's payload in place, straight into ring memory. <paramref name="destination"/> is exactly
/// as long as the length passed to the append and is valid only during the call. The writer must not call back
/// into the log (it holds ring space that the flush thread waits for); if it throws, the record is abandoned,
/// no LSN is consumed and the exception reaches the caller of the append.
/// </summary>
public delegate void WalPayloadWriter<TState>(Span<byte> destination, TState state)
    where TState : allows ref struct;
