use super::*;
pub struct Grammar { expert: ExpertKind }
impl Grammar {
    pub fn new(expert: ExpertKind) -> Self { Grammar { expert } }
    pub fn expert(&self) -> ExpertKind { self.expert }
    pub fn allowed_mask(&self, _allowed: &mut [bool]) { todo!("lead is writing this") }
    pub fn advance(&mut self, _id: u32) -> Result<(), DecodeError> { todo!("lead is writing this") }
    pub fn reset(&mut self) {}
    pub fn at_bar_boundary(&self) -> bool { todo!("lead is writing this") }
    pub fn current_step_in_bar(&self) -> Option<u32> { todo!("lead is writing this") }
}
