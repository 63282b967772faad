//! NucleusService: the cell's coordinator and the only writer of its journals.

// tidy: lookup-only (seen transactions, visited events)

use crate::bus::{Service, ServiceSpec};

use crate::cell::protocol::{
    CellError, CellProtocol, CellRequest, CellResponse, JournalKind, cost,
};
use crate::cell::shared::JournalSet;
use std::cell::RefCell;
use std::rc::Rc;

use super::{CallResult, Ctx, misrouted};

/// The cell's coordinator: its configuration and metadata, the writer of all
/// five journals (every append goes through `nucleus.append`).
pub struct NucleusService {
    journals: Rc<RefCell<Option<JournalSet>>>,
    metadata: Vec<u8>,
}

impl NucleusService {
    pub const NAME: &'static str = "nucleus";

    pub fn spec() -> ServiceSpec {
        ServiceSpec::new(Self::NAME).action("nucleus.append")
    }

    /// `metadata`: the block recorded at every boot (index, id, config).
    pub fn new(journals: Rc<RefCell<Option<JournalSet>>>, metadata: Vec<u8>) -> Self {
        NucleusService { journals, metadata }
    }

    fn append_now(&mut self, journal: JournalKind, blocks: &[Vec<u8>]) -> Result<(), CellError> {
        let mut set = self.journals.borrow_mut();
        let set = set.as_mut().expect("journals open");
        set.writer_mut(journal)
            .append_batch(blocks)
            .map(|_| ())
            .map_err(|error| CellError::Journal(error.to_string()))
    }
}

impl Service<CellProtocol> for NucleusService {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        let metadata = self.metadata.clone();
        self.append_now(JournalKind::Nucleus, &[metadata])
            .expect("the boot record fits a journal block");
        ctx.charge_cpu(cost::SIGNATURE_SIGN_NS);
    }

    fn on_call(&mut self, request: CellRequest, ctx: &mut Ctx<'_>) -> CallResult {
        match request {
            CellRequest::NucleusAppend { journal, blocks } => {
                let bytes: usize = blocks.iter().map(Vec::len).sum();
                ctx.charge_cpu(cost::SIGNATURE_SIGN_NS + cost::bytes_ns(bytes));
                self.append_now(journal, &blocks)?;
                Ok(CellResponse::Done)
            }
            other => Err(misrouted(&other)),
        }
    }
}
